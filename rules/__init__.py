"""Sigma rules: loading, compiling into stream matchers, correlation, conversion to queries."""
