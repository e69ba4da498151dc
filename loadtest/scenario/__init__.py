"""What load is sent: the load profiles (users, think time, arrival) of a validation run. Pure data."""
