"""The pytest side: options, the generated checks, fixtures and hookspecs."""
