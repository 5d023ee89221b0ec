"""Street networks and patrol planning for capable-guardian teams."""
