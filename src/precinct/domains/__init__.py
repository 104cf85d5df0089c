"""precinct.domains"""
