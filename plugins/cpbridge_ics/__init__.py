"""ICS (Integrated Children's System) social care plugin."""
