"""Saved searches in `<config_index_prefix>-saved-searches`: private to their owner, or shared with
the owner's team (the SOC, or the owner's agency); nobody sees another team's."""
