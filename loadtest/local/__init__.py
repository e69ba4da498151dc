"""The local stack: replicas of the reference service behind a real nginx on 127.0.0.1, and its autoscaler."""
