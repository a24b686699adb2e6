package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// CreatePostgres creates the PostgreSQL database name, unless it exists, on the server
// that serverURL reaches (through any of its databases), and returns serverURL with its
// path naming the database. Names follow the rule for schemas: lower case letters,
// digits and underscores.
func CreatePostgres(ctx context.Context, serverURL, name string) (string, error) {
	dbURL, err := postgresURL(serverURL, name)
	if err != nil {
		return "", err
	}
	err = onServer(ctx, serverURL, func(db *gorm.DB) error {
		var exists bool
		if err := db.Raw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", name).Scan(&exists).Error; err != nil || exists {
			return err
		}
		err := db.Exec("CREATE DATABASE " + name).Error
		// Another process may have created it since the check.
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
			return nil
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return dbURL, nil
}

// DropPostgres drops the PostgreSQL database name, if it exists, on the server that
// serverURL reaches, cutting its connections first.
func DropPostgres(ctx context.Context, serverURL, name string) error {
	if _, err := postgresURL(serverURL, name); err != nil {
		return err
	}
	err := onServer(ctx, serverURL, func(db *gorm.DB) error {
		return db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
	})
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// postgresURL checks name and returns serverURL with its path naming it.
func postgresURL(serverURL, name string) (string, error) {
	if !schemaName.MatchString(name) {
		return "", fmt.Errorf("invalid database name %q", name)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// onServer runs fn on a connection to the server of serverURL, closed when fn returns.
func onServer(ctx context.Context, serverURL string, fn func(db *gorm.DB) error) error {
	db, err := Open(ctx, Config{URL: serverURL}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer Close(db)
	return fn(db.WithContext(ctx))
}
