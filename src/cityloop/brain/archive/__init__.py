"""Archive: raw readings to Parquet once per checkpoint generation, and the hourly pulse roll-ups."""
