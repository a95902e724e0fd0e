"""Storage: the only package that imports tortoise-orm."""
