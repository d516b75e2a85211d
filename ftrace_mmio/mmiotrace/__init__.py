"""mmiotrace"""
