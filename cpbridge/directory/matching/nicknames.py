"""UK-relevant nicknames, diminutives and spelling variants of given names.

Each line of ``_GROUPS`` is one equivalence set: a formal name with the short
forms and spellings people use for it. Two names are nickname-equivalent when
some group holds both. Groups are deliberately *not* merged transitively: "Sam"
is in the Samuel group and in the Samantha group, but Samuel and Samantha are
different names (boy/girl twins are often named so). Names are folded with
:func:`normalise.fold` (upper case, no accents or apostrophes, hyphens to spaces).

To add a name, add a line or a word to a line; :func:`groups_of` reads them at
import. Keep spelling variants that JW >= 0.92 already catches only where the
variant is common (it documents intent and costs nothing).
"""

from __future__ import annotations

from functools import lru_cache

from .normalise import fold

_GROUPS = """
William Will Bill Billy Willie Willy Liam Wills
Elizabeth Liz Lizzie Lizzy Beth Betty Bette Bess Bessie Eliza Elisabeth Elspeth Libby Lisa Liza Ellie Betsy Izzy
John Jack Johnny Jon Jonny Johnnie Jonnie
Jonathan Jon Jonny Johnny
Alfred Alfie Alf Fred Freddie Alfy
Oliver Ollie Olly Oli Noll
Olivia Liv Livvy Livia Ollie Olly
Henry Harry Hal Hank Hen Henri Enrique
Harold Harry Hal
Harrison Harry
Samuel Sam Sammy Sammie
Samantha Sam Sammy Sammie Sami
Katherine Catherine Kathryn Katharine Cathryn Kate Katie Katy Kay Kat Kathy Cathy Kitty Kath Cath Katya Catrin
Thomas Tom Tommy Thom Tomas Tam
Mohammed Muhammad Mohammad Mohamed Muhammed Mohamad Mohammod Mohd Mo Mohamud Muhamed Mehmet
Ahmed Ahmad Ahmet Ahmedi
Abdullah Abdulla Abdallah
Ali Aly Alee
Hussain Hussein Husain Hossain Husein
Hassan Hasan Hassen
Yusuf Yousef Yousuf Youssef Yusef Joseph
Ibrahim Ebrahim Ibraheem Abraham
Ismail Ismael Ishmael
Ayesha Aisha Aysha Ayeesha Aishah Ayisha
Fatima Fatimah Fatma Fathima
Maryam Mariam Miriam Meryem Mary
Zainab Zaynab Zenab Zeinab
Khadija Khadijah Khadeeja
Amir Ameer Emir
Omar Umar Omer
Bilal Belal
Hamza Hamzah
Zara Zahra Zarah Sara
Robert Rob Robbie Robby Bob Bobby Bert Bertie Robin
Richard Rich Richie Rick Ricky Dick Dicky
Edward Ed Eddie Eddy Ted Teddy Ned Neddy
Edmund Ed Eddie Ted Ned
Edwin Ed Eddie
James Jim Jimmy Jamie Jamey Jimi Jem Seamus Hamish
Joseph Joe Joey Jo Jos Joss Jozef Jose Giuseppe Yosef
Josephine Jo Josie Jojo Jose Fifi
Michael Mike Mikey Mick Micky Mickey Mich Mikael Michal Mihai
Christopher Chris Kit Christy Topher Krzysztof Kris
Christian Chris Christy Kris Krystian
Christina Chris Chrissy Tina Kirsty Kirstie Christine Kristina Krystyna
Daniel Dan Danny Dani Daniele
Danielle Dani Danni Dannie Daniela
David Dave Davey Davy Dai Dafydd Davide Dawid
Matthew Matt Matty Mat Mateusz Mattias Matteo Mathew
Andrew Andy Drew Andrzej Andre Andreas Andrei
Anthony Tony Ant Antony Antoni Anton Antonio
Alexander Alex Alec Alexandre Sandy Xander Alasdair Alistair Aleksander Sasha Lex Alek
Alexandra Alex Alexa Lexi Lexie Sandra Sasha Sandy Aleksandra Ola Alessandra
Benjamin Ben Benny Benji Benjy
Charles Charlie Chas Chuck Chaz
Charlotte Charlie Lottie Lotte Lotty Char Carly
Nicholas Nick Nicky Nico Niko Mikolaj Nicolas Klaus Nikolas Nikolai
Nicole Nicky Nikki Niki Nicola Nichola
Patrick Pat Paddy Patsy Padraig
Patricia Pat Patty Patsy Trish Tricia Trisha
Peter Pete Piotr Pedro Pierre Pietro
Philip Phil Phillip Pip Filip Felipe Philippe
Stephen Steven Steve Stevie Stefan Stephan Steffan Stefano Esteban
Stephanie Steph Stephie Stef Stefanie
Timothy Tim Timmy Tymon Tymoteusz
Gregory Greg Gregor Grzegorz
Jacob Jake Jakub Jacobi Kuba Jakob Yakub Yaqub Jacques Jack
Joshua Josh Joshy
Nathaniel Nathan Nat Nate Nathanael
Nathan Nate Nat
Zachary Zach Zack Zak Zac Zachariah Zakaria Zakariya
Sebastian Seb Sebby Bastian Sebastien Sebastiano
Theodore Theo Ted Teddy Teo
Theo Teo Theodor
Frederick Fred Freddie Freddy Fredrick Fryderyk Fritz Rick
Francis Frank Frankie Fran Franciszek Francesco Frances
Frances Fran Frankie Fanny Francesca Franki
Gabriel Gabe Gabby Gab Gabriele
Gabriella Gabby Gabi Gabrielle Brie
Isabella Bella Izzy Izzie Isabelle Isabel Isobel Izabela Belle Issy Isa Ishbel
Isabel Isobel Izzy Bella Belle Isabelle Izabel
Eleanor Ellie Nell Nellie Nora Elinor Eleanora Leonora Lainey Elle
Helen Nell Nellie Ellen Helena Lena Elena Ellie
Ellen Ellie Nell Helen
Ella Ellie Elle
Emily Em Emmy Millie Emmie Emilia Emilie
Emma Em Emmy Emmie
Amelia Millie Milly Emilia Amalia Melia
Mildred Millie Milly
Camilla Millie Milly Cami
Margaret Maggie Meg Peggy Marge Margot Margo Greta Mags Malgorzata Gosia Marjorie
Mary Molly Polly Mae May Maria Marie Mamie Maire Marysia Mariam Miriam
Maria Marie Mary Mariah Marija Marya
Anne Ann Annie Anna Nan Nancy Hannah Anya Ania Anneka Annika
Hannah Hanna Anna Annie Hana
Susan Sue Susie Suzy Susanna Susannah Suzanne Zuzanna Zuza
Jennifer Jen Jenny Jenni Jennie Jenna Jess
Jessica Jess Jessie Jessy Jessa
Rebecca Becky Becca Bex Rebekah Becki Reba
Victoria Vicky Vicki Tori Tory Viki Wiktoria Vic
Abigail Abi Abby Abbie Gail Abbey Gaby
Deborah Debbie Debra Deb Debs
Dorothy Dot Dotty Dolly Dora Dorota
Florence Flo Florrie Flossie Floss Flora
Georgina Georgie Gina George
Georgia Georgie Gia
George Georgie Jerzy Jorge Giorgio Geordie
Gerald Gerry Jerry Ged Ger
Jeremy Jerry Jez Jem
Jessamine Jess Jessie
Josiah Josh Joss
Joanne Jo Joanna Jo-Anne Joann Jojo
Julia Jules Julie Julka Julie-Ann
Juliet Jules Julie Juliette
Julian Jules Jools Julien Juliusz
Laurence Lawrence Laurie Larry Lawrie Lorenzo Wawrzyniec
Lauren Laura Laurie Lori Lorrie
Leonard Leo Len Lenny Leon Leonardo
Leo Leon Leonardo Leonidas Leonard
Louis Lewis Lou Louie Lewie Luis Ludwik Luigi
Louise Lou Lulu Louisa Lisa Louie Luiza
Lucy Lucie Lu Lucia Lucille Luce
Lucas Luke Luca Lukas Lukasz Luc
Martin Marty Mart Marcin Martyn Martino
Matilda Tilly Tillie Tilda Maud Mattie Tilde
Maximilian Max Maxi Maks Maksymilian Maxim Massimo
Maxwell Max Maxie
Megan Meg Meggie Meghan Meagan
Michelle Shelley Shell Chelle Michaela Micky Mica
Natalie Nat Nattie Natalia Natasha Tasha Talia
Natasha Tasha Tash Nat Natalia
Nicola Nicky Nikki Nic Nicole
Penelope Penny Pen Nell Poppy
Philippa Pippa Pip Phil Pippy
Raymond Ray Raymund Rajmund
Reginald Reg Reggie Rex
Ronald Ron Ronnie Ronny
Donald Don Donnie Donny
Rosemary Rose Rosie Romy Rosa Rosy
Rose Rosie Rosa Rosy Rosalie
Sarah Sara Sally Sadie Sal Zara Sarai
Sophia Sophie Sofia Sofie Zofia Zosia Soph Sophy
Sophie Sophia Sofia Soph Zofia
Stanley Stan Stanislaw Stas
Terence Terry Tel
Teresa Theresa Tess Tessa Terri Tessie Tracy Tereza
Vincent Vince Vinny Vin Vincenzo Wincenty
Walter Walt Wally
Wilfred Wilf Fred Alfie
Winifred Winnie Freda Win
Yvonne Vonnie Evonne
Zoe Zoey Zoë Zoya Zoie
Abraham Abe Bram Ibrahim Avi
Adam Ad Addy Adamo
Adrian Ade Adrien Adriano
Aidan Aiden Ayden Aden Adan
Jayden Jaden Jaiden Jaydon Jaydn
Brandon Bran Brendan
Callum Calum Cal Cally
Cameron Cam Cammy
Connor Conor Con Conner
Declan Dec Deccy
Dominic Dom Dominik Domenico Dominick
Douglas Doug Dougie Duggie
Duncan Dunc Dunky
Elliot Eliot Elliott Eli Ellis
Elijah Eli Elias Ilyas Ilias
Ethan Eth Eitan
Finlay Finley Finn Fin Finnley
Harvey Harv
Hugh Hughie Hugo Huw
Isaac Ike Izaak Isak Ishaq Izak
Jasper Jas Caspar Kasper Kacper
Jude Judd Judah
Kenneth Ken Kenny
Kevin Kev Kevan
Kieran Kieron Ciaran Kiaran Keiran
Lachlan Lachie Lockie
Logan Lo
Mason Mase Macy
Noah Noe Nuh Nooh
Owen Owain Eoin Ewan Euan Ewen
Reuben Ruben Rube Rubin
Riley Reilly Rylee Ryley
Ryan Ry Rian
Sean Shaun Shawn Seán
Seth Set
Toby Tobias Tobi Tobiah
Tyler Ty
Wyatt Wy
Xavier Xav Zavier Javier
Arthur Art Artie Artur Arturo
Albert Al Bert Bertie Albie Alby Alberto
Albie Alby Albert Alban
Archibald Archie Arch Archy Baldie
Archie Archy
Bartholomew Bart Barty Bartek Bartosz Bartlomiej Tolly
Cornelius Con Neil Kees
Cuthbert Cuddy Bert
Desmond Des Dessie
Dennis Den Denny Denis
Francesca Fran Frankie Chesca Cesca
Gwendolyn Gwen Wendy Gwenda
Hamish James
Jacqueline Jackie Jacky Jacquie Jac
Jemima Jem Mima Jemma Gemma
Gemma Jemma Gem
Kimberly Kim Kimmy Kimberley
Leanne Lee Leigh Lea
Lee Leigh Lea
Lydia Liddy Lyddie
Madeleine Madeline Maddie Maddy Madelyn Madalyn Magdalena
Madison Maddie Maddy Madisyn
Melissa Mel Missy Lissa
Melanie Mel Mellie
Miranda Randi Mira Mandy
Amanda Mandy Manda
Naomi Nomi Omi
Olga Ola
Pamela Pam Pammy
Priscilla Cilla Prissy
Rachel Rach Rae Rachael Raquel
Ruth Ruthie
Serena Rena
Shirley Shirl
Tabitha Tabby Tabs
Valerie Val
Veronica Ronnie Nicky Vera Ronni
Wendy Gwendolyn
Winston Win Winnie
Aleksander Olek Alek Aleks
Wojciech Wojtek Voytek Woj
Katarzyna Kasia Kasha Kate Kathy Katherine
Agnieszka Aga Agnes Agusia
Malgorzata Gosia Margaret Maggie
Małgorzata Gosia
Magdalena Magda Madzia Madeleine
Joanna Asia Joasia Jo
Anna Ania Anka Anusia
Zuzanna Zuza Zuzia Susan
Krzysztof Krzys Chris Christopher
Jan Janek Jasiek John
Jakub Kuba Jacob
Tomasz Tomek Thomas Tom
Mateusz Mati Matt Matthew
Lukasz Luke Lukas
Pawel Paul Pawelek
Paul Paulie Pawel Pablo Paolo
Pauline Paula Polly
Szymon Simon Szymek
Simon Si Sim Szymon
Dariusz Darek
Przemyslaw Przemek
Marek Mark Marc Marcus Markus Marco
Mark Marc Marcus Marco Marky
Oluwaseun Seun Shaun
Oluwatobi Tobi Toby
Oluwadamilare Dami Damilare
Oluwaseyi Seyi
Oluwafemi Femi
Oluwatosin Tosin
Oluwabukola Bukola Buki
Oluwakemi Kemi
Olufunmilayo Funmi Funmilayo
Olamide Lami
Oluwatomisin Tomi Tomisin
Oluwanifemi Nifemi
Adebayo Bayo
Adeola Deola
Adewale Wale
Ayodele Ayo Dele
Ayomide Ayo Mide
Chukwuemeka Emeka Chukwu
Chinonso Nonso
Chinedu Nedu
Chidinma Dinma
Chiamaka Amaka Chi
Chimamanda Ada Manda
Ngozi Ngo
Obinna Obi
Oluwadarasimi Darasimi Simi
Temitope Tope Temi
Temitayo Tayo Temi
Babatunde Tunde
Oladipupo Dipo
Olanrewaju Lanre
Abimbola Bimbo Bola
Folasade Sade Shade
Kehinde Kenny
Taiwo Tai
Kwame Kwamena
Kofi Kofie
Gurpreet Preet Gurpret
Harpreet Preet Harprit
Manpreet Preet
Jaspreet Jas Preet
Gurdeep Deep
Hardeep Deep
Mandeep Deep
Jasmine Jas Jazz Yasmin Yasmine Jasmin Jazmin
Yasmin Jasmine Yasmeen Yasmine
Priya Pri Priyanka
Rajesh Raj Rajeesh
Rajinder Raj Rajindar
Sanjay Sanju
Vijay Vij
Deepak Dipak
Pooja Puja
Anjali Anju
Aarav Arav
Arjun Arjan
Krishna Krish Kris
Ravinder Ravi
Ravi Rav
Sunil Sunny
Amandeep Aman Amandip
Navdeep Nav
Navjot Nav
Sukhvinder Sukhi
Balvinder Bal Bally
Kulvinder Kully
Parminder Pam Parm
Jaswinder Jas
Harjinder Harj
Inderjit Indy
Surinder Sue Surri
Abdul Abdool Abdal
Abdirahman Abdi Abdurrahman Abdulrahman
Abdirahim Abdi
Mustafa Mostafa Mustapha
Mahmood Mahmud Mehmood Mahmoud
Nasir Naseer Nasser
Rashid Rasheed
Tariq Tarik Tareq
Usman Osman Uthman Othman
Imran Imraan
Irfan Erfan
Faisal Faysal
Farhan Farhaan
Haris Harris
Idris Idrees Edris
Junaid Junaed
Rayan Rayyan Ryan
Saad Sa'ad Sad
Sulaiman Suleiman Sulayman Suleyman Solomon
Yahya Yahia John
Yaqub Yakub Jacob
Yunus Younes Jonah
Zakariya Zakaria Zachariah Zachary
Aaliyah Aliyah Alia Aliya Aleah
Amina Aminah Ameena
Hafsa Hafsah
Hiba Heba
Inaya Inayah Enaya
Iqra Ikra
Layla Laila Leila Lailah Leyla Lila
Maryam Mariam Meryem
Noor Nur Nour
Ruqayyah Ruqaya Rukiya
Safa Safah
Sana Sanaa
Sumaya Sumaiya Somaya Sumayyah
Zahra Zara Zehra
Zainab Zaynab
Nadia Nadya Nadiya
Niamh Neve Neev Niav
Siobhan Shivaun Shevaun Chevonne
Aoife Eva Effie
Saoirse Sorcha Seersha
Sinead Shinead Janet Jane
Grainne Grania Grace
Ciara Kiara Keira Kiera Cara
Cara Kara Carra
Aisling Ashling Ashlyn
Roisin Rosheen Rose
Padraig Patrick Paddy
Eoghan Owen Eoin
Seamus Shamus James
Ruairi Rory Ruaridh
Rory Ruaraidh Roderick
Cormac Cormack
Oisin Osheen Ossian
Tadhg Teague Tighe
Dylan Dillon Dilan
Rhys Reece Rees Reese
Gethin Geth
Gareth Gaz Gary Garry
Gary Gaz Garry
Sion Sean John
Sian Shan Jane
Bethan Beth
Cerys Ceri
Carys Cerys
Megan Meg
Angharad Anga
Rhiannon Rhi Rhian
Gwyneth Gwen
Llewellyn Llew Lew
Ffion Fion
Tegan Teagan Teigan
Jane Janey Jan Jayne Jeanie Jana
Janet Jan Jenny Netty
Janice Jan Jan
Jean Jeanie Jeannie Jeane
Joan Joanie Joni
Alison Ali Allie Allison Alyson
Alice Ali Allie Alicia Alys Alisha Ally
Alicia Alisha Alice
Alfreda Freda Alfie
Allan Alan Al Allen Alun Alain
Angela Angie Ange Angelina Angel
Barbara Barb Barbie Babs Basia
Beatrice Bea Trixie Beattie Beatrix Bee
Bernard Bernie Barney Bernardo
Brian Bryan Bri
Carol Carole Caroline Carolyn Carrie Caz Karolina Lina
Caroline Carrie Caro Carolina Caz Lina Karolina
Cecilia Cece Cissy Celia
Clarissa Clara Clare Claire
Claire Clare Clara Klara
Constance Connie
Cynthia Cindy Cyn
Diana Di Diane Dianne Dee
Edith Edie Eda
Eileen Eily Aileen
Eliza Lizzie Liza
Evelyn Evie Eve Eva Ev Lyn Evelina
Eva Evie Eve Ewa
Ava Avie Ava-Rose
Ivy Ivie
Frederica Freda Freddie
Geoffrey Geoff Jeff Jeffrey Jeffery
Gertrude Gertie Trudy
Grace Gracie Gray
Harriet Hattie Hatty Harri Etta
Henrietta Hattie Etta Hetty Henny
Jacqueline Jackie
Kathleen Kath Kathy Katie Kay
Kirsten Kirsty Kirstie Kristen
Lillian Lily Lilly Lil Lilian Lila Lillie
Lily Lilly Lillie Lili Lilia
Margery Marjorie Madge Margie
Martha Marty Mattie Patty
Nancy Nan Nance
Norman Norm Norrie
Oscar Ossie Oskar Ozzy
Percival Percy Val
Phoebe Phebe Phoebs
Poppy Pop
Rhoda Rhodie
Sidney Sid Sydney Syd
Sydney Syd Sid
Vivian Viv Vivien Vivienne
Winnie Win
Archer Archie
Ronan Ro
Felix Flick
Harley Harl
Kayden Caden Kaiden Cayden
Kai Ky Kye
Ezra Ez
Luca Luka Lucca
Louie Louis Lewie
Reggie Reg Reginald
Rowan Ro
Stanley Stan
Tommy Tom Thomas
Bobby Bob Robert
Billy Bill William
Sonny Son
Tyler Ty
Millie Milly Millicent
Maisie Maisy Mazie
Lottie Charlotte
Rosie Rose Rosalind
Ellie Elly Elle
Gracie Grace
Freya Freja Freyja
Imogen Immy Imi Immie
Scarlett Scarlet Scarlette
Darcey Darcy Darci Darcie
Phoebe Phebe
Harper Harps
Willow Will
Aria Arya Ariya
Mila Milla Myla
Nevaeh Neveah
Amber Ambar
Summer Sumer
Ruby Rubie Rubi
Matilda Tilly
Elsie Elsa Else
Esme Esmee Esmae
Luna Lunah
Hallie Halle Hally
Eliza Elisa Eliza-Mae
Ayla Aila Aylah
Orla Orlagh
Erin Eryn
Katie Katy Katey Kate
Courtney Cortney Kourtney
Chloe Khloe Cloe Chloé
Bethany Beth Bethanie
Brooke Brook
Paige Page
Hayley Haley Hailey Haylee
Kayleigh Kayley Kaylee Kayla Caleigh
Leah Lea Lia
Shannon Shan Shanon
Tia Tiah Tiya
Demi Demmi
Ashley Ash Ashleigh
Jade Jayde
Kelly Kellie Kelli
Chelsea Chelsey
Amy Aimee Aimée Ami Amie
Abbie Abbey Abby
Stacey Stacy Stacie Anastasia
Anastasia Ana Stacey Tasia Nastia
Ethan Eitan
"""


def _load() -> dict[str, frozenset[int]]:
    index: dict[str, set[int]] = {}
    for number, line in enumerate(_GROUPS.strip().splitlines()):
        names = {fold(word) for word in line.split()}
        for name in names:
            if name:
                index.setdefault(name.replace(" ", ""), set()).add(number)
    return {name: frozenset(groups) for name, groups in index.items()}


_INDEX: dict[str, frozenset[int]] = _load()
GROUP_COUNT: int = len(_GROUPS.strip().splitlines())


def groups_of(name: str) -> frozenset[int]:
    """The numbers of the groups holding a (folded or raw) given name."""
    return _INDEX.get(fold(name).replace(" ", ""), frozenset())


@lru_cache(maxsize=100_000)
def are_nicknames(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are different forms of one name ("Bill"/"William")."""
    if not a or not b:
        return False
    return bool(groups_of(a) & groups_of(b))


def known_names() -> frozenset[str]:
    """Every folded name in the table (for tests and the synthetic generator)."""
    return frozenset(_INDEX)


def variants(name: str) -> frozenset[str]:
    """Every other name sharing a group with ``name`` (folded)."""
    groups = groups_of(name)
    me = fold(name).replace(" ", "")
    return frozenset(n for n, g in _INDEX.items() if g & groups and n != me)
