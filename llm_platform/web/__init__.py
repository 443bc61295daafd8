"""The browser app: a bundle built from web/ at install time, served from this package."""
