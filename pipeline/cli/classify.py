"""`outreach classify`: placeholder until pipeline/inbound.py lands."""
