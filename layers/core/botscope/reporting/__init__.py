"""Reports for people and pipelines: the HTML report pages, badges, and the CLI's text, Markdown,
SARIF and JUnit renderings, all built from the report object of the API."""
