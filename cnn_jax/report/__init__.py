"""The whole study in one report: the chapters and their runs (chapters, runner), published
against measured (compare), the report folder (build, md, html), and the docs' generated tables
(docs, chapter_tables)."""
