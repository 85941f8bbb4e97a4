"""Serializers: they parse and validate input and shape output; services do the writing."""
