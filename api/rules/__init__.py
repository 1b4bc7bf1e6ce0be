"""Rules: the detector's rule library, Sigma validation and rule tests on pasted events."""
