"""Core: the data types, the error tree and the typed configuration that every layer shares."""
