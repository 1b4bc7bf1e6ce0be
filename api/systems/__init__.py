"""Information systems inventory: owner agency, security level, hosts, sources, contacts."""
