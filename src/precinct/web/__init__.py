"""precinct.web"""
