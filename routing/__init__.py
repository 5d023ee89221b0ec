"""Street networks and patrol planning for capable-guardian teams."""

from routing.deploy import Deployment, plan_deployment, prepare_deployment, solve_deployment
from routing.network import (
    MODES,
    NetworkChoice,
    add_travel_times,
    cached_networks,
    check_network,
    choose_network,
    download_network,
    import_network,
    load_network,
    network_info,
    network_path,
    prepare_network,
)
from routing.output import PatrolPlan, TeamRoute, Visit
from routing.plan import plan_patrols
from routing.stops import (
    add_must_visit,
    join_neighbours,
    merge_stops,
    must_visit_stops,
    parse_window,
    select_stop_cells,
    snap_stops,
    stops_from_ranking,
)
from routing.teams import Team, base_points, default_teams

__all__ = [
    "MODES",
    "Deployment",
    "NetworkChoice",
    "PatrolPlan",
    "Team",
    "TeamRoute",
    "Visit",
    "add_must_visit",
    "add_travel_times",
    "base_points",
    "cached_networks",
    "check_network",
    "choose_network",
    "default_teams",
    "download_network",
    "import_network",
    "join_neighbours",
    "load_network",
    "merge_stops",
    "must_visit_stops",
    "network_info",
    "network_path",
    "parse_window",
    "plan_deployment",
    "plan_patrols",
    "prepare_deployment",
    "prepare_network",
    "select_stop_cells",
    "snap_stops",
    "solve_deployment",
    "stops_from_ranking",
]
