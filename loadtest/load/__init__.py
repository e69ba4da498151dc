"""Running load: Locust's own runners as child processes, with headroom's exact recorder inside Locust."""
