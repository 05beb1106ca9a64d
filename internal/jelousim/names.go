package jelousim

// Small tables from which the generator derives realistic row values. A row
// stores none of its strings: they are picked from these tables by hashing
// the conversation's index with the seed.

var firstNames = [...]string{
	"María", "José", "Ana", "Luis", "Carmen", "Jorge", "Lucía", "Carlos",
	"Valentina", "Andrés", "Gabriela", "Diego", "Sofía", "Fernando", "Camila",
	"Ricardo", "Daniela", "Miguel", "Paula", "Javier", "Isabel", "Mateo",
	"Fernanda", "Sebastián", "Renata", "João", "Beatriz", "Thiago", "Larissa",
	"Rafael", "Juliana", "Pedro",
}

var lastNames = [...]string{
	"García", "Rodríguez", "Martínez", "López", "González", "Pérez", "Sánchez",
	"Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales",
	"Ortiz", "Gutiérrez", "Chávez", "Ramos", "Vargas", "Castillo", "Jiménez",
	"Moreno", "Romero", "Herrera", "Medina", "Aguilar", "Silva", "Souza",
	"Oliveira", "Almeida", "Carvalho",
}

var botNames = [...]string{
	"Asistente Virtual", "Banco Pichincha Bot", "Soporte 24/7", "Ventas Bot",
	"Cobranzas", "Atención al Cliente", "Jelou Demo", "Farmacia Express",
	"Seguros Bot", "Reservas", "Delivery Bot", "Mesa de Ayuda", "Onboarding",
	"Tienda Online", "Postventa", "Agendamiento",
}

var teamNames = [...]string{
	"Soporte N1", "Soporte N2", "Ventas", "Cobranzas", "Reclamos",
	"Retención", "Postventa", "VIP", "Back Office", "General",
}

// origins and their cumulative weights out of 100.
var origins = [...]struct {
	name string
	cum  int
}{
	{"whatsapp", 45}, {"ticket", 65}, {"web", 80}, {"facebook", 92}, {"instagram", 100},
}

var tagNames = [...]string{
	"vip", "billing", "complaint", "new-customer", "follow-up", "priority",
	"refund", "onboarding",
}

var closedReasons = [...]string{"closed_by_operator", "closed_by_user", "closed_by_operator", "transferred"}
