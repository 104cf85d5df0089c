"""precinct.core"""
