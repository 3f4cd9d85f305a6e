"""Loaders for the raw data files (one module per source) and the data manifest check.

`manifest` says which files exist and what they look like, `csvio` reads them with errors
that name the file and the fix, and each source module turns one dataset into a table.
"""
