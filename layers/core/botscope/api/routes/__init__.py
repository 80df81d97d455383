"""One module per resource; each exposes ``router`` (an APIRouter without the /api/v1 prefix)."""
