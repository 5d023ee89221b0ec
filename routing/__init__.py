"""Street networks and patrol planning for capable-guardian teams."""

from routing.network import (
    MODES,
    add_travel_times,
    cached_networks,
    check_network,
    download_network,
    import_network,
    load_network,
    network_info,
    network_path,
    prepare_network,
)
from routing.output import PatrolPlan, TeamRoute, Visit
from routing.plan import plan_patrols
from routing.stops import merge_stops, parse_window, snap_stops, stops_from_ranking
from routing.teams import Team, base_points, default_teams

__all__ = [
    "MODES",
    "PatrolPlan",
    "Team",
    "TeamRoute",
    "Visit",
    "add_travel_times",
    "base_points",
    "cached_networks",
    "check_network",
    "default_teams",
    "download_network",
    "import_network",
    "load_network",
    "merge_stops",
    "network_info",
    "network_path",
    "parse_window",
    "plan_patrols",
    "prepare_network",
    "snap_stops",
    "stops_from_ranking",
]
