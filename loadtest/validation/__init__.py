"""Orchestration: one validation run start to finish, and the proposal as an edit of the stack file."""
