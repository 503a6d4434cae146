package views

import (
	"fmt"
	"time"
)

// messages holds the words of the pages and emails end-customers see, in English and
// Bahasa Indonesia. Staff pages are in English only.
var messages = map[string]map[string]string{
	"en": {
		"subject":                          "Connect your WhatsApp number to %s",
		"hi":                               "Hi %s,",
		"intro":                            "%s uses WhatsApp to talk with your customers. Connect your WhatsApp Business number in a few minutes: it is done on Meta's own secure page.",
		"what_you_need":                    "What you need",
		"need_facebook":                    "A Facebook login, to manage your business on Meta.",
		"need_phone":                       "A phone number that can receive a verification code by SMS or call.",
		"need_time":                        "About five minutes.",
		"button":                           "Connect WhatsApp",
		"expires":                          "This link works until %s.",
		"help":                             "Questions? Contact %s.",
		"ignore":                           "If you did not expect this email, you can ignore it.",
		"reminder_subject_unopened":        "Reminder: connect your WhatsApp number to %s",
		"reminder_subject_expiring":        "Your link to connect WhatsApp to %s expires soon",
		"reminder_unopened":                "A couple of days ago we sent you a link to connect your WhatsApp Business number to %s. It takes about five minutes on Meta's secure page, and your link below still works.",
		"reminder_expiring":                "Your link to connect WhatsApp to %s works until %s. If you still want to connect your number, it takes about five minutes:",
		"button_fallback":                  "If the button does not work, open this address in your browser:",
		"landing_title":                    "Connect WhatsApp",
		"landing_hello":                    "Welcome, %s",
		"landing_lead":                     "Connect your WhatsApp Business number to %s. It takes about five minutes on Meta's secure page; you will come back here when it is done.",
		"steps":                            "How it works",
		"step1":                            "Press “Connect WhatsApp” and sign in with Facebook.",
		"step2":                            "Choose or create your business, then enter the phone number to connect.",
		"step3":                            "Confirm the number with the code Meta sends by SMS or call.",
		"tips":                             "Avoid the usual snags",
		"tip_existing":                     "A number already used in the WhatsApp or WhatsApp Business app must be removed from that app first (delete the account in the app's settings).",
		"tip_display":                      "Do not choose “display name only”: connect the full phone number.",
		"tip_code":                         "Keep the phone at hand: the verification code expires within minutes.",
		"on_hold_title":                    "Your setup is on hold",
		"on_hold_body":                     "Connecting WhatsApp is paused for your account for now. Please contact %s to continue.",
		"connected_title":                  "Already connected",
		"connected_body":                   "This link was already used: your WhatsApp number is connected to %s. Nothing more to do.",
		"expired_title":                    "This link has expired",
		"revoked_title":                    "This link is no longer valid",
		"expired_body":                     "Setup links work for a limited time. Ask for a fresh one and we will email it to the address we have on file.",
		"fresh_button":                     "Send me a fresh link",
		"fresh_sent":                       "A fresh link is on its way to your email. Check your inbox (and spam folder) in a minute.",
		"fresh_too_soon":                   "A fresh link was sent moments ago. Please check your email, or try again later.",
		"fresh_no_email":                   "We have no email address for you. Please contact %s for a new link.",
		"notfound_title":                   "Link not found",
		"notfound_body":                    "This link is not valid or has expired. Please use the newest link you received, or contact the sender.",
		"contact_us":                       "us",
		"success_title":                    "WhatsApp is connected",
		"success_body":                     "Your number %s is now connected to %s.",
		"success_next":                     "What happens next: %s can now send and receive WhatsApp messages for you, and your message templates are being synced. There is nothing more to do.",
		"continue":                         "Continue to %s",
		"pending_title":                    "We are confirming your connection",
		"pending_body":                     "Meta and Kirim are finishing the setup. This page updates by itself in a few seconds.",
		"unconfirmed_title":                "Almost done",
		"unconfirmed_body":                 "We could not confirm your connection yet. You do not need to start again.",
		"unconfirmed_next_alerted":         "Our team has just been alerted. They will check the connection with Kirim and email you at %s if anything is needed from you.",
		"unconfirmed_next_alerted_noemail": "Our team has just been alerted and will check the connection with Kirim.",
		"unconfirmed_next_queue":           "This is now on our team's follow-up list. They will check the connection with Kirim and email you at %s if anything is needed from you.",
		"unconfirmed_next_queue_noemail":   "This is now on our team's follow-up list; they will check the connection with Kirim.",
		"pending_next":                     "You can close this page: the portal keeps checking with Kirim, and if the connection cannot be confirmed our team follows up.",
		"failed_next_alerted":              "Our team has been alerted. If trying again does not work, they will email you at %s to help.",
		"failed_next_alerted_noemail":      "Our team has been alerted and can help if trying again does not work.",
		"failed_next_queue":                "If you do not manage to connect, our team sees it on their follow-up list and will email you at %s to help.",
		"failed_next_queue_noemail":        "If you do not manage to connect, our team sees it on their follow-up list and will help.",
		"failed_title":                     "The connection did not go through",
		"try_again":                        "Try again",
		"failed_link_dead":                 "This setup link no longer works. Ask for a fresh one: we will email it to you.",
		"get_fresh_link":                   "Get a fresh link",
		"failed_open_email":                "To try again, open the link in the email we sent you.",
		"failed_code":                      "Error code: %s",
		"invalid_title":                    "We could not confirm this connection",
		"invalid_body":                     "This page cannot confirm anything by itself. If you were connecting WhatsApp, please open the link from your email again.",
		"reason_signup_cancelled":          "The Meta signup was closed or cancelled before it finished.",
		"reason_token_exchange_failed":     "Meta could not hand over access to your number. This is usually temporary: please try again in a few minutes.",
		"reason_link_expired":              "This setup link had expired.",
		"reason_link_revoked":              "This setup link was cancelled.",
		"reason_link_already_used":         "This setup link was already used.",
		"reason_unknown":                   "Something went wrong during the signup. If the number is still registered in the WhatsApp app, delete that account in the app first (Settings › Account › Delete account); otherwise simply try again.",
	},
	"id": {
		"subject":                          "Hubungkan nomor WhatsApp Anda ke %s",
		"hi":                               "Halo %s,",
		"intro":                            "%s menggunakan WhatsApp untuk berbicara dengan pelanggan Anda. Hubungkan nomor WhatsApp Business Anda dalam beberapa menit, langsung di halaman aman milik Meta.",
		"what_you_need":                    "Yang Anda perlukan",
		"need_facebook":                    "Akun Facebook, untuk mengelola bisnis Anda di Meta.",
		"need_phone":                       "Nomor telepon yang dapat menerima kode verifikasi lewat SMS atau panggilan.",
		"need_time":                        "Sekitar lima menit.",
		"button":                           "Hubungkan WhatsApp",
		"expires":                          "Tautan ini berlaku sampai %s.",
		"help":                             "Ada pertanyaan? Hubungi %s.",
		"ignore":                           "Jika Anda tidak mengharapkan email ini, abaikan saja.",
		"reminder_subject_unopened":        "Pengingat: hubungkan nomor WhatsApp Anda ke %s",
		"reminder_subject_expiring":        "Tautan untuk menghubungkan WhatsApp ke %s segera kedaluwarsa",
		"reminder_unopened":                "Beberapa hari lalu kami mengirimkan tautan untuk menghubungkan nomor WhatsApp Business Anda ke %s. Prosesnya sekitar lima menit di halaman aman Meta, dan tautan Anda di bawah ini masih berlaku.",
		"reminder_expiring":                "Tautan Anda untuk menghubungkan WhatsApp ke %s berlaku sampai %s. Jika Anda masih ingin menghubungkan nomor Anda, prosesnya sekitar lima menit:",
		"button_fallback":                  "Jika tombol tidak berfungsi, buka alamat ini di browser Anda:",
		"landing_title":                    "Hubungkan WhatsApp",
		"landing_hello":                    "Selamat datang, %s",
		"landing_lead":                     "Hubungkan nomor WhatsApp Business Anda ke %s. Prosesnya sekitar lima menit di halaman aman Meta; Anda akan kembali ke sini setelah selesai.",
		"steps":                            "Cara kerjanya",
		"step1":                            "Tekan “Hubungkan WhatsApp” lalu masuk dengan Facebook.",
		"step2":                            "Pilih atau buat bisnis Anda, lalu masukkan nomor telepon yang akan dihubungkan.",
		"step3":                            "Konfirmasi nomor dengan kode yang dikirim Meta lewat SMS atau panggilan.",
		"tips":                             "Hindari kendala umum",
		"tip_existing":                     "Nomor yang sudah dipakai di aplikasi WhatsApp atau WhatsApp Business harus dihapus dulu dari aplikasi tersebut (hapus akun di pengaturan aplikasi).",
		"tip_display":                      "Jangan pilih “hanya nama tampilan”: hubungkan nomor telepon lengkap.",
		"tip_code":                         "Siapkan ponsel Anda: kode verifikasi kedaluwarsa dalam beberapa menit.",
		"on_hold_title":                    "Penyiapan Anda sedang ditunda",
		"on_hold_body":                     "Untuk sementara, penghubungan WhatsApp untuk akun Anda dijeda. Silakan hubungi %s untuk melanjutkan.",
		"connected_title":                  "Sudah terhubung",
		"connected_body":                   "Tautan ini sudah digunakan: nomor WhatsApp Anda sudah terhubung ke %s. Tidak ada lagi yang perlu dilakukan.",
		"expired_title":                    "Tautan ini sudah kedaluwarsa",
		"revoked_title":                    "Tautan ini tidak berlaku lagi",
		"expired_body":                     "Tautan penyiapan berlaku untuk waktu terbatas. Minta tautan baru dan kami akan mengirimkannya ke email yang terdaftar.",
		"fresh_button":                     "Kirimi saya tautan baru",
		"fresh_sent":                       "Tautan baru sedang dikirim ke email Anda. Periksa kotak masuk (dan folder spam) dalam satu menit.",
		"fresh_too_soon":                   "Tautan baru baru saja dikirim. Silakan periksa email Anda, atau coba lagi nanti.",
		"fresh_no_email":                   "Kami tidak memiliki alamat email Anda. Silakan hubungi %s untuk tautan baru.",
		"notfound_title":                   "Tautan tidak ditemukan",
		"notfound_body":                    "Tautan ini tidak valid atau sudah kedaluwarsa. Gunakan tautan terbaru yang Anda terima, atau hubungi pengirimnya.",
		"contact_us":                       "kami",
		"success_title":                    "WhatsApp sudah terhubung",
		"success_body":                     "Nomor Anda %s kini terhubung ke %s.",
		"success_next":                     "Selanjutnya: %s kini dapat mengirim dan menerima pesan WhatsApp untuk Anda, dan template pesan Anda sedang disinkronkan. Tidak ada lagi yang perlu dilakukan.",
		"continue":                         "Lanjut ke %s",
		"pending_title":                    "Kami sedang mengonfirmasi koneksi Anda",
		"pending_body":                     "Meta dan Kirim sedang menyelesaikan penyiapan. Halaman ini akan diperbarui sendiri dalam beberapa detik.",
		"unconfirmed_title":                "Hampir selesai",
		"unconfirmed_body":                 "Kami belum dapat mengonfirmasi koneksi Anda. Anda tidak perlu mengulang.",
		"unconfirmed_next_alerted":         "Tim kami baru saja diberi tahu. Mereka akan memeriksa koneksi dengan Kirim dan mengirim email ke %s jika ada yang diperlukan dari Anda.",
		"unconfirmed_next_alerted_noemail": "Tim kami baru saja diberi tahu dan akan memeriksa koneksi dengan Kirim.",
		"unconfirmed_next_queue":           "Ini sekarang ada di daftar tindak lanjut tim kami. Mereka akan memeriksa koneksi dengan Kirim dan mengirim email ke %s jika ada yang diperlukan dari Anda.",
		"unconfirmed_next_queue_noemail":   "Ini sekarang ada di daftar tindak lanjut tim kami; mereka akan memeriksa koneksi dengan Kirim.",
		"pending_next":                     "Anda boleh menutup halaman ini: portal terus memeriksa dengan Kirim, dan jika koneksi tidak dapat dikonfirmasi, tim kami akan menindaklanjuti.",
		"failed_next_alerted":              "Tim kami sudah diberi tahu. Jika mencoba lagi tidak berhasil, mereka akan mengirim email ke %s untuk membantu.",
		"failed_next_alerted_noemail":      "Tim kami sudah diberi tahu dan dapat membantu jika mencoba lagi tidak berhasil.",
		"failed_next_queue":                "Jika Anda belum berhasil terhubung, tim kami melihatnya di daftar tindak lanjut dan akan mengirim email ke %s untuk membantu.",
		"failed_next_queue_noemail":        "Jika Anda belum berhasil terhubung, tim kami melihatnya di daftar tindak lanjut dan akan membantu.",
		"failed_title":                     "Koneksi tidak berhasil",
		"try_again":                        "Coba lagi",
		"failed_link_dead":                 "Tautan penyiapan ini sudah tidak berlaku. Minta tautan baru: kami akan mengirimkannya lewat email.",
		"get_fresh_link":                   "Minta tautan baru",
		"failed_open_email":                "Untuk mencoba lagi, buka tautan di email yang kami kirimkan kepada Anda.",
		"failed_code":                      "Kode kesalahan: %s",
		"invalid_title":                    "Kami tidak dapat mengonfirmasi koneksi ini",
		"invalid_body":                     "Halaman ini tidak dapat mengonfirmasi apa pun dengan sendirinya. Jika Anda sedang menghubungkan WhatsApp, buka lagi tautan dari email Anda.",
		"reason_signup_cancelled":          "Pendaftaran Meta ditutup atau dibatalkan sebelum selesai.",
		"reason_token_exchange_failed":     "Meta tidak dapat menyerahkan akses ke nomor Anda. Biasanya hanya sementara: coba lagi dalam beberapa menit.",
		"reason_link_expired":              "Tautan penyiapan ini sudah kedaluwarsa.",
		"reason_link_revoked":              "Tautan penyiapan ini sudah dibatalkan.",
		"reason_link_already_used":         "Tautan penyiapan ini sudah digunakan.",
		"reason_unknown":                   "Terjadi kesalahan saat pendaftaran. Jika nomor ini masih terdaftar di aplikasi WhatsApp, hapus dulu akun tersebut di aplikasi (Setelan › Akun › Hapus akun); jika tidak, cukup coba lagi.",
	},
}

// T returns the message key in the locale (English when unknown), formatted with args.
func T(locale, key string, args ...any) string {
	m, ok := messages[locale]
	if !ok {
		m = messages["en"]
	}
	s, ok := m[key]
	if !ok {
		s = messages["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

var monthsID = []string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

// LongDate writes a date the way the locale reads it.
func LongDate(locale string, t time.Time) string {
	t = t.UTC()
	if locale == "id" {
		return fmt.Sprintf("%d %s %d, %02d.%02d UTC", t.Day(), monthsID[t.Month()-1], t.Year(), t.Hour(), t.Minute())
	}
	return t.Format("2 January 2006, 15:04 UTC")
}

// Reason explains a known failure reason code in plain words (the generic words for
// "" or a code without words of its own).
func Reason(locale, code string) string {
	m, ok := messages[locale]
	if !ok {
		m = messages["en"]
	}
	if s, ok := m["reason_"+code]; ok && code != "" {
		return s
	}
	return T(locale, "reason_unknown")
}
