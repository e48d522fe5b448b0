//! The README lists every command and every flag `--help` shows, so the two cannot drift.

use clap::CommandFactory;

use super::Cli;

const README: &str = include_str!("../../README.md");

#[test]
fn the_readme_names_every_command_and_flag() {
    let cli = Cli::command();
    let mut missing = Vec::new();
    for command in cli.get_subcommands() {
        let name = command.get_name();
        if !README.contains(&format!("shadowmesh {name}")) {
            missing.push(format!("command `shadowmesh {name}`"));
        }
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let short = arg.get_short().map(|c| format!("`-{c}"));
            let named =
                README.contains(&format!("--{long}")) || short.is_some_and(|s| README.contains(&s));
            if !named {
                missing.push(format!("`shadowmesh {name} --{long}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md does not mention: {}",
        missing.join(", ")
    );
}

#[test]
fn run_help_lists_every_admin_endpoint_the_readme_documents() {
    let mut cli = Cli::command();
    let help = cli
        .find_subcommand_mut("run")
        .expect("run exists")
        .render_long_help()
        .to_string();
    let documented: Vec<&str> = README
        .lines()
        .filter_map(|l| l.strip_prefix("| `GET "))
        .filter_map(|l| l.split(['`', '?']).next())
        .collect();
    assert!(documented.len() >= 6, "{documented:?}");
    for endpoint in documented {
        assert!(
            help.contains(&format!("GET {endpoint} ")),
            "`run --help` does not list {endpoint}:\n{help}"
        );
    }
}
