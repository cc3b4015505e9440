//! `hookhost config check` and `master-key`, and the flags of every setting: generated from
//! the settings `config.default.toml` declares, with their help and default.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Args, Command, FromArgMatches, Subcommand};

use super::CliError;
use crate::config::{Resolved, Settings, Sources, process_env};

/// Check a configuration, or make a master key.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the configuration `hookhost serve` would run with (the defaults,
    /// then FILE, then HOOKHOST_* variables), secrets masked, or every error.
    Check {
        /// A configuration file (TOML).
        file: Option<PathBuf>,
    },
    /// Print a new master key (64 hex digits) for `master_key`; see its help
    /// for rotating one.
    MasterKey,
}

impl ConfigCommand {
    pub(crate) async fn run(self) -> Result<ExitCode, CliError> {
        match self {
            ConfigCommand::Check { file } => {
                let resolved = resolve(file.as_deref(), &SettingFlags::default())?;
                print!("{}", Settings::builtin().render(&resolved));
                Ok(ExitCode::SUCCESS)
            }
            ConfigCommand::MasterKey => {
                println!("{}", crate::store::generate_master_key());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// The configuration from the defaults, `file`, the environment and `flags`.
pub(crate) fn resolve(file: Option<&Path>, flags: &SettingFlags) -> Result<Resolved, CliError> {
    Ok(Settings::builtin().load(&Sources {
        file,
        env: Some(&process_env),
        flags: &flags.0,
    })?)
}

/// The flags of the settings given on the command line, as (key, text).
#[derive(Debug, Clone, Default)]
pub(crate) struct SettingFlags(Vec<(String, String)>);

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for setting in Settings::builtin().iter() {
            if let Some(value) = matches.get_one::<String>(&setting.key) {
                self.0.push((setting.key.clone(), value.clone()));
            }
        }
        Ok(())
    }
}

impl Args for SettingFlags {
    fn augment_args(cmd: Command) -> Command {
        with_setting_flags(Settings::builtin(), cmd)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// One flag per setting, its help the setting's comment, its default and
/// variable shown as the defaults state them. Flags carry no default of
/// their own: an absent flag leaves the file's or the variable's value.
fn with_setting_flags(settings: &Settings, mut cmd: Command) -> Command {
    for setting in settings.iter() {
        let mut help = setting.doc.clone();
        if let Some(default) = setting.default_text() {
            help.push_str(&format!(" [default: {default}]"));
        }
        help.push_str(&format!(" [env: {}]", setting.env()));
        cmd = cmd.arg(
            Arg::new(setting.key.clone())
                .long(setting.flag())
                .value_name(setting.key.to_uppercase())
                .help(help),
        );
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULTS;

    fn help(settings: &Settings) -> String {
        with_setting_flags(settings, Command::new("serve"))
            .render_help()
            .to_string()
    }

    #[test]
    fn every_setting_has_a_flag_showing_its_default_and_variable() {
        let text = help(Settings::builtin());
        for setting in Settings::builtin().iter() {
            assert!(text.contains(&format!("--{}", setting.flag())), "{text}");
            assert!(text.contains(&setting.env()), "{text}");
            if let Some(default) = setting.default_text() {
                assert!(text.contains(&format!("[default: {default}]")), "{text}");
            }
        }
    }

    #[test]
    fn a_default_changed_in_the_defaults_file_shows_in_the_flags_help() {
        let settings = Settings::parse(&DEFAULTS.replace("workers = 64", "workers = 7")).unwrap();
        assert!(help(&settings).contains("[default: 7]"));
        assert!(!help(&settings).contains("[default: 64]"));
    }

    #[test]
    fn flags_given_are_collected_by_setting() {
        let cmd = SettingFlags::augment_args(Command::new("serve"));
        let matches = cmd
            .try_get_matches_from(["serve", "--workers", "3", "--max-queue-depth", "10"])
            .unwrap();
        let flags = SettingFlags::from_arg_matches(&matches).unwrap();
        let expected = [("workers", "3"), ("max_queue_depth", "10")]
            .map(|(key, value)| (key.to_owned(), value.to_owned()));
        assert_eq!(flags.0, expected);
    }
}
