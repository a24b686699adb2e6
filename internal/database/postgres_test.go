package database_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
)

func TestCreateAndDropPostgresDatabase(t *testing.T) {
	cfg, ok := dbtest.Postgres(t)
	if !ok {
		t.Skip("PostgreSQL not configured: set " + dbtest.EnvURL)
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dbtest_" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = database.DropPostgres(ctx, cfg.URL, name) })

	created, err := database.CreatePostgres(ctx, cfg.URL, name)
	if err != nil {
		t.Fatal(err)
	}
	again, err := database.CreatePostgres(ctx, cfg.URL, name)
	if err != nil || again != created {
		t.Fatalf("second create: %q, %v; want %q and no error", again, err, created)
	}
	db, err := database.Open(ctx, database.Config{URL: created}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the created database: %v", err)
	}
	var current string
	if err := db.Raw("SELECT current_database()").Scan(&current).Error; err != nil || current != name {
		t.Fatalf("connected to %q (%v), want %q", current, err, name)
	}
	// The drop cuts the connection still open to it.
	if err := database.DropPostgres(ctx, cfg.URL, name); err != nil {
		t.Fatal(err)
	}
	_ = database.Close(db)
	if err := database.DropPostgres(ctx, cfg.URL, name); err != nil {
		t.Fatalf("second drop: %v", err)
	}
	if _, err := database.Open(ctx, database.Config{URL: created}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatalf("%s still opens after the drop", name)
	}
}

func TestPostgresDatabaseNamesAreChecked(t *testing.T) {
	for _, name := range []string{"", "Upper", "semi;colon", "a-b", "1st"} {
		if _, err := database.CreatePostgres(context.Background(), "postgres://nowhere.invalid/x", name); err == nil {
			t.Errorf("CreatePostgres accepted the name %q", name)
		}
		if err := database.DropPostgres(context.Background(), "postgres://nowhere.invalid/x", name); err == nil {
			t.Errorf("DropPostgres accepted the name %q", name)
		}
	}
}
