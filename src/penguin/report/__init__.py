"""Reports: self-contained HTML and a Markdown summary."""
