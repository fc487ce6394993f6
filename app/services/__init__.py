"""Use cases as plain functions. They flush, never commit: the caller owns the transaction."""
