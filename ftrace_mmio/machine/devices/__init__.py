"""machine/devices"""
