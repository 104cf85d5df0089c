"""precinct.cli"""
