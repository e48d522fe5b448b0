//! Field rules shared by every kind: host names (FQDNs, wildcards, short names), ports,
//! durations, percentages, header names and values, as Istio's validation checks them.
