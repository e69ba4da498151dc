"""Capacity planning: models of the two autoscalers, a service model, traffic profiles, a simulator.

- ``hpa``: the Kubernetes HorizontalPodAutoscaler's replica calculation and behavior.
- ``asg``: EC2 Auto Scaling target tracking (alarms, warmup, proportional steps).
- ``service``: what one replica serves and how its p95 grows with load.
- ``traffic``: request rates over time, from the seed's profiles or a CSV file.
- ``simulate``: second by second, replicas, utilization, p95 and errors under one autoscaler.
- ``optimize``: the cheapest settings that keep the SLO through a profile.
- ``document``: the plan as JSON (``headroom-plan/1``), which the renderers read.
- ``compare``: an autoscaled local run's real replicas next to the simulator's.

All of it is pure: no processes, no network, no files except reading a traffic CSV.
"""
