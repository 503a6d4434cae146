package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// tokenCommand is "portal token add|list|revoke": the API tokens of
// /admin/settings/api from a terminal.
func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("token needs a subcommand: add, list or revoke")
	}
	sub, args := args[0], args[1:]
	withDB := func(rest []string, fn func(db *store.DB, rest []string) error) error {
		return withConfig(ctx, "token "+sub, rest, getenv, stderr, func(cfg Config, _ *slog.Logger, rest []string) error {
			db, err := store.Open(ctx, cfg.dbPath(), nil)
			if err != nil {
				return err
			}
			defer db.Close()
			return fn(db, rest)
		})
	}
	switch sub {
	case "add":
		fs := flag.NewFlagSet("token add", flag.ContinueOnError)
		fs.SetOutput(stderr)
		name := fs.String("name", "", "what the token is for, e.g. the system that uses it")
		scope := fs.String("scope", store.ScopeRead, "read or write")
		cfgArgs, err := splitFlags(args, "name=", "scope=")
		if err != nil {
			return err
		}
		if err := fs.Parse(cfgArgs.own); err != nil {
			return err
		}
		return withDB(cfgArgs.rest, func(db *store.DB, _ []string) error {
			token, t, err := onboarding.CreateAPIToken(ctx, db, *name, *scope, "command line")
			var inv *onboarding.InvalidError
			if errors.As(err, &inv) {
				for field, msg := range inv.Fields {
					return usageError("token add: --" + field + ": " + msg)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token %d %q (%s) created\ntoken (shown once, store it now): %s\n", t.ID, t.Name, t.Scope, token)
			return nil
		})
	case "list":
		return withDB(args, func(db *store.DB, _ []string) error {
			tokens, err := db.APITokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tENDS IN\tCREATED BY\tLAST USED\tREVOKED")
			for _, t := range tokens {
				fmt.Fprintf(tw, "%d\t%s\t%s\t…%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.Last4, t.CreatedBy, when(t.LastUsedAt), when(t.RevokedAt))
			}
			return tw.Flush()
		})
	case "revoke":
		return withDB(args, func(db *store.DB, rest []string) error {
			if len(rest) != 1 {
				return usageError("token revoke needs the token's ID (portal token list shows it)")
			}
			id, err := strconv.ParseInt(rest[0], 10, 64)
			if err != nil {
				return usageError("token revoke: " + rest[0] + " is not a token ID")
			}
			if err := db.RevokeAPIToken(ctx, id, "command line"); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no live token %d", id)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token %d revoked: requests with it are refused from now on\n", id)
			return nil
		})
	}
	return usageError("token: unknown subcommand " + sub + " (add, list or revoke)")
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
