# Git area: git_connectors.toml (rgs_toml, rgs_config), rgs-commit, rgs-ssh.
UNITS += test-toml
test-toml_LIBS := util toml
test-toml_PKGS := jansson

UNITS += test-config
test-config_LIBS := util toml config
test-config_PKGS :=

FUZZERS += toml
fuzz-toml_LIBS := util toml config
fuzz-toml_PKGS :=
fuzz-toml_CORPUS := tests/fuzz/corpus/toml

TOOLS += rgs-ssh
rgs-ssh_LIBS := util crypto sshkey
rgs-ssh_PKGS := libcrypto

TOOLS += rgs-commit
rgs-commit_LIBS := util record crypto toml config sshkey path git
rgs-commit_PKGS := jansson libgit2 libcrypto
