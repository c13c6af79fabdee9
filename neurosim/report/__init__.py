"""Writing and drawing a report: the writer (atomic report folders), the Markdown page, the
plain-text descriptions and the figures."""
