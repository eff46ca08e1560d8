"""The Nautilus strategies the desk ships; strategies.translation maps spec types to them."""
