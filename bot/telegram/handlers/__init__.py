"""Thin PTB callbacks by area; each narrows the update and hands it to a service."""
