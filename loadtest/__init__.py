"""headroom's validation side: load tests, measurement, verdicts, reports and the CLI.

It may import ``infra.config`` and ``infra.render``; ``infra`` never imports it.
"""
