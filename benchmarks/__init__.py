"""Study files (*.toml) live here; the experiment and figure scripts in scripts/."""
