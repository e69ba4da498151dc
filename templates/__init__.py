"""The Jinja templates of every rendered artifact, shipped as the package ``infra.templates``.

pyproject.toml maps this directory onto that name, so ``infra.render`` loads the
templates through the package: the same code works in a checkout, an editable install
and a wheel in site-packages, from any working directory.
"""
