"""headroom's infrastructure side: the stack config, template rendering and the Pulumi program.

``infra.config`` and ``infra.render`` import no Pulumi module, so the validation stage
starts fast; the Pulumi SDK is imported only by ``infra.program``, ``infra.components``
and ``infra.preview``. Pulumi runs ``infra/__main__.py`` as the program (see Pulumi.yaml).
"""
