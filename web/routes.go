package web

import (
	"net/http"

	"github.com/kirim-portal/portal/store"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes is the portal's one route table, read top to bottom.
func (s *Server) routes() {
	app := s.app
	app.Use(s.requestID, s.withClientIP, s.accessLog, recover.New(), s.securityHeaders)

	// Probes and assets.
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/static/:name", s.staticAsset)

	// The platform's API: bearer tokens, no session, no CSRF (web/api.go).
	s.apiRoutes(app)

	// Every unsafe request below needs the session's CSRF token; the session cookie is
	// written once, after the handler.
	app.Use(s.writeSession, s.checkCSRF)

	// Public pages. The end-customer's pages are reached by unguessable tokens, never
	// cached or indexed, and rate-limited per IP.
	app.Get("/", s.home)
	app.Get("/brand/theme.css", s.theme)
	app.Get("/brand/logo", s.logo)
	app.Get("/brand/email-logo", s.logo)
	onboard := app.Group("/onboard", publicHeaders, s.publicLimit())
	onboard.Get("/r/:key/success", s.returnSuccess)
	onboard.Get("/r/:key/status", s.returnStatus)
	onboard.Get("/r/:key/failure", s.returnFailure)
	onboard.Get("/:token", s.landing)
	onboard.Get("/:token/connect", s.connect)
	onboard.Post("/:token/fresh", s.freshLink)

	// Kirim's signed webhook deliveries (no session: the signature is the credential).
	app.Post("/webhooks/kirim", s.kirimWebhook)

	// Staff sign-in, and the first-run link that creates the first staff account.
	app.Get("/login", s.loginPage)
	app.Post("/login", s.login)
	app.Post("/logout", s.logout)
	app.Get("/setup/:token", s.setupPage)
	app.Post("/setup/:token", s.setupSubmit)
	app.Get("/forgot", s.forgotPage)
	app.Post("/forgot", s.forgot)
	app.Get("/invite/:token", s.staffLinkPage(store.LinkInvite))
	app.Post("/invite/:token", s.staffLinkSubmit(store.LinkInvite))
	app.Get("/reset/:token", s.staffLinkPage(store.LinkReset))
	app.Post("/reset/:token", s.staffLinkSubmit(store.LinkReset))

	// The admin UI: every route needs a staff session.
	admin := app.Group("/admin", s.requireStaff, s.requireAdmin)
	admin.Get("/", s.dashboard)
	admin.Post("/setup/test-email", s.testEmail)
	admin.Post("/setup/kirim-check", s.kirimCheck)
	admin.Get("/account", s.accountPage)
	admin.Post("/account/password", s.changePassword)
	admin.Post("/account/alerts", s.saveAlerts)
	admin.Get("/attention", s.attention)
	admin.Post("/attention/:id<int>/snooze", s.snooze)
	admin.Post("/attention/:id<int>/handle", s.handle)
	admin.Get("/customers", s.listCustomers)
	admin.Post("/customers", s.createCustomer)
	admin.Get("/customers/new", s.newCustomer)
	admin.Get("/customers/export.csv", s.exportCustomers)
	admin.Post("/customers/bulk", s.bulkConfirm)
	admin.Post("/customers/bulk/confirm", s.bulkStart)
	admin.Get("/customers/:id<int>", s.showCustomer)
	admin.Post("/customers/:id<int>", s.updateCustomer)
	admin.Get("/customers/:id<int>/edit", s.editCustomer)
	admin.Post("/customers/:id<int>/suspend", s.customerAction("Customer suspended.", suspendCustomer))
	admin.Post("/customers/:id<int>/unsuspend", s.customerAction("Suspension lifted.", unsuspend))
	admin.Post("/customers/:id<int>/archive", s.customerAction("Customer archived.", archive))
	admin.Post("/customers/:id<int>/links", s.customerAction("New setup link generated.", issueLink))
	admin.Post("/customers/:id<int>/links/:link<int>/revoke", s.customerAction("Link revoked.", revokeLink))
	admin.Post("/customers/:id<int>/links/:link<int>/redirects", s.customerAction("Redirect URLs saved.", updateRedirects))
	admin.Post("/customers/:id<int>/email", s.sendLink)
	admin.Post("/customers/:id<int>/follow-up", s.customerAction("Follow-up saved.", setFollowUp))
	admin.Post("/customers/:id<int>/accounts/refresh", s.customerAction("Customer, links and accounts refreshed from Kirim.", refreshFromKirim))
	admin.Post("/customers/:id<int>/accounts/:account<int>/sync", s.customerAction("Templates synced.", syncTemplates))
	admin.Get("/imports", s.imports)
	admin.Post("/imports", s.uploadImport)
	admin.Get("/imports/:id<int>", s.showBatch)
	admin.Get("/imports/:id<int>/progress", s.batchProgress)
	admin.Get("/imports/:id<int>/results.csv", s.batchResults)
	admin.Post("/imports/:id<int>/start", s.batchAction("Import started.", startBatch))
	admin.Post("/imports/:id<int>/pause", s.batchAction("Paused: the rows in flight finish, the rest wait.", pauseBatch))
	admin.Post("/imports/:id<int>/resume", s.batchAction("Resumed.", resumeBatch))
	admin.Post("/imports/:id<int>/cancel", s.batchAction("Cancelled: the rows not yet worked will not be.", cancelBatch))
	admin.Post("/imports/:id<int>/retry", s.batchAction("The failed rows are being tried again.", retryBatch))
	admin.Post("/templates/sync", s.syncAll)
	admin.Post("/reconcile", s.reconcileNow)
	admin.Post("/settings/webhook", s.registerWebhook)
	admin.Get("/outbox", s.outbox)
	admin.Get("/outbox/:id<int>", s.showEmail)
	admin.Get("/outbox/:id<int>/html", s.emailHTML)
	admin.Post("/outbox/:id<int>/resend", s.resendEmail)
	admin.Get("/settings/branding", s.brandingPage)
	admin.Post("/settings/branding", s.saveBranding)
	admin.Post("/settings/branding/logo", s.uploadLogo)
	admin.Post("/settings/branding/email-logo", s.uploadLogo)
	admin.Get("/settings/branding/preview/email", s.previewEmail)
	admin.Get("/settings/branding/preview/landing", s.previewLanding)
	admin.Get("/settings/api", s.apiSettings)
	admin.Post("/settings/api/tokens", s.createToken)
	admin.Post("/settings/api/tokens/:id<int>/revoke", s.revokeToken)
	admin.Get("/settings/webhooks", s.webhooksPage)
	admin.Post("/settings/webhooks", s.addEndpoint)
	admin.Post("/settings/webhooks/:id<int>/rotate", s.rotateEndpoint)
	admin.Post("/settings/webhooks/:id<int>/enable", s.enableEndpoint)
	admin.Post("/settings/webhooks/:id<int>/delete", s.deleteEndpoint)
	admin.Post("/settings/webhooks/deliveries/:id<int>/redeliver", s.redeliver)
	admin.Get("/settings/team", s.teamPage)
	admin.Post("/settings/team/invite", s.inviteStaff)
	admin.Post("/settings/team/invites/:id<int>/revoke", s.revokeInvite)
	admin.Post("/settings/team/:id<int>/role", s.staffAction("Role of {email} saved.", setStaffRole))
	admin.Post("/settings/team/:id<int>/disable", s.staffAction("{email} is disabled and signed out.", disableStaff))
	admin.Post("/settings/team/:id<int>/enable", s.staffAction("{email} can sign in again.", enableStaff))
	admin.Post("/settings/team/:id<int>/reset", s.staffAction("A password-reset link is on its way to {email}.", sendStaffReset))
	admin.Get("/settings/follow-up", s.followUpPage)
	admin.Post("/settings/follow-up", s.saveFollowUp)
	admin.Get("/settings/follow-up/preview/:kind", s.previewReminder)

	// The built-in Kirim sandbox (only without a Kirim API key): its hosted signup page
	// must be reachable by the end-customer's browser.
	if s.cfg.Sandbox != nil {
		app.All("/sandbox/*", adaptor.HTTPHandler(http.StripPrefix("/sandbox", s.cfg.Sandbox)))
	}

	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}
