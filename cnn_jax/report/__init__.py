"""The whole study in one report: the chapters and their runs (chapters, runner), published
against measured (compare), and the report folder (build, md, html)."""
