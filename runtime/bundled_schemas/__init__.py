"""The JSON Schemas relay ships; ``schemas/`` at the top of the repository links here."""
