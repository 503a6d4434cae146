// Package static embeds the portal's CSS, scripts and images and names each file by
// its content hash, so that browsers may cache them for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed files
var files embed.FS

// Asset is one embedded file.
type Asset struct {
	Name        string // logical name, e.g. "app.css"
	HashedName  string // e.g. "app.3f2a1b9c.css"
	ContentType string
	Body        []byte
}

// Assets maps logical and hashed names to embedded files.
type Assets struct {
	byName   map[string]*Asset
	byHashed map[string]*Asset
}

// Load reads every embedded file and computes its hashed name.
func Load() (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}, byHashed: map[string]*Asset{}}
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "files/")
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:10] + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		asset := &Asset{Name: name, HashedName: hashed, ContentType: ct, Body: body}
		a.byName[name], a.byHashed[hashed] = asset, asset
		return nil
	})
	return a, err
}

// URL returns the public path of a logical asset name, e.g. /static/app.3f2a1b9c.css.
// An unknown name panics: it is a programming error caught by any test of the page.
func (a *Assets) URL(name string) string {
	asset, ok := a.byName[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return "/static/" + asset.HashedName
}

// ByHashedName returns the asset served under a hashed name.
func (a *Assets) ByHashedName(hashed string) (*Asset, bool) {
	asset, ok := a.byHashed[hashed]
	return asset, ok
}
