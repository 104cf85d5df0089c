"""precinct.platform"""
